"""The desktop's database: typed models, engine setup and migrations."""
