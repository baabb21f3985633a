"""The Tongxin command line and the embedded default (`tongxin run`). Never imported by services."""
