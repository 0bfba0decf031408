"""One module per data source; importing it registers that source's tasks."""
