"""Study configs expanded into cells, a resumable results store, and executors."""
