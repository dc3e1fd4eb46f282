"""The task store (SQLAlchemy 2, async). Import submodules directly; this package stays light."""
