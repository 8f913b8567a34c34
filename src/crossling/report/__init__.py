"""Tables, plots and the HTML/Markdown report."""
