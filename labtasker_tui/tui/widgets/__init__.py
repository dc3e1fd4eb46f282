"""Small reusable widgets; they post messages upward and never touch the store."""
