"""Getting data in: the data contract, file readers, vectorised validation and the bulk write paths."""
