"""What a typical user builds instead of ZeroShop, written honestly: Flask, SQLAlchemy, gunicorn."""
