-- What the demo writes while outboxx runs.
\connect outboxx_demo
SET ROLE outboxx;
BEGIN;
INSERT INTO orders (customer, total, card_number, meta)
VALUES ('ada', 42.50, '4111-1111-1111-1111', '{"channel": "web", "coupons": ["NOV"]}') RETURNING id AS order_id \gset
INSERT INTO order_items VALUES (:order_id, 1, 'book-042', 2), (:order_id, 2, 'pen-007', 1);
COMMIT;
UPDATE orders SET status = 'paid' WHERE id = :order_id;
DELETE FROM order_items WHERE order_id = :order_id AND line = 2;
