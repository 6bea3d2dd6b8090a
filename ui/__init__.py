"""The Streamlit app's pure helpers: rendering (`ui.render`), exports (`ui.export`), cached resources (`ui.state`)."""
