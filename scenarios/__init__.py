"""The future: sufficiency forecasting from cohort trends, SSDA903 import, and tender scenarios
simulated month by month with the matching engine. Built in the forecasting and scenario issues."""
