"""The picf dashboard (Textual). It imports picf; picf never imports it."""
