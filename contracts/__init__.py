"""The published language of Tongxin: event contracts and the department ownership map."""
