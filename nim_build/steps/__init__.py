"""Pipeline steps, one module each: catalog → eu / metadata → validate → diff → write."""
