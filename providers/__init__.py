"""The supply side: frameworks, lots, tier prices, properties and vacancies, and the geography
(postcodes, distances, local-authority areas and which authorities adjoin) they are placed in."""
