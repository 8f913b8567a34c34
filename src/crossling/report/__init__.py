"""The study report: `data` computes a `ReportData` from result rows, `sections` chooses and
captions what each section shows, `write` draws, exports and renders it into a folder."""
