"""Files of the unified output (:class:`perception.structures.FusedDetections`): a writer and a reader per format."""
