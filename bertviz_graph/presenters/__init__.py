"""Presenters: panels as plain data and plotly figures, shared by the app and the widget."""
