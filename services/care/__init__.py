"""The care service (owned by the Education Bureau, `edu`): one file per child who needs it."""
