"""Privacy by design, shared by every service (issue 9).

- `suppression`, `table_suppression`: no published figure singles anyone out (small
  cells and their complements, in a row with its total or a table with its margins).
- `audit` (`audit_chain`, `audit_store`): every read of personal data is an access
  record in a hash chain, in the service's own database (`database`).
- `sealing`: personal data sent to one service travels sealed to that service's key (JWE).
- `datakeys` (`datakey_store`): each person's fields are encrypted with that person's
  own key; erasure destroys the key (crypto-shredding).
"""
