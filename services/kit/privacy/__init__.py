"""Privacy by design, shared by every service (issue 9).

- `suppression`: no published figure singles anyone out (small cells and their complements).
- `audit`: every read of personal data is an access record in a hash chain.
- `sealing`: personal data sent to one service travels sealed to that service's key (JWE).
- `datakeys`: each person's fields are encrypted with that person's own key; erasure
  destroys the key (crypto-shredding).
"""
