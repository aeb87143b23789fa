-- Runs once, when the compose `postgres` volume is first created
-- (/docker-entrypoint-initdb.d), as the superuser, in the `shop` database.

-- Outboxx's own role: REPLICATION to open the replication connection and the
-- slot; it reads (snapshots) and owns the captured tables so that it may add
-- them to its publication; CREATE on the database to create the publication.
CREATE ROLE outboxx WITH LOGIN REPLICATION PASSWORD 'outboxx';
GRANT CREATE, CONNECT ON DATABASE shop TO outboxx;

CREATE TABLE public.orders (
  id          bigserial PRIMARY KEY,
  customer    text        NOT NULL,
  status      text        NOT NULL DEFAULT 'new',
  total       numeric(12, 2) NOT NULL DEFAULT 0,
  card_number text,
  meta        jsonb       NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.order_items (
  id       bigserial PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES public.orders (id) ON DELETE CASCADE,
  sku      text   NOT NULL,
  quantity int    NOT NULL CHECK (quantity > 0)
);

ALTER TABLE public.orders OWNER TO outboxx;
ALTER TABLE public.order_items OWNER TO outboxx;

INSERT INTO public.orders (customer, status, total, card_number, meta)
VALUES ('ada', 'paid', 10.50, '4111111111111111', '{"channel": "web"}'),
       ('grace', 'new', 99.00, NULL, '{"channel": "app"}');
INSERT INTO public.order_items (order_id, sku, quantity) VALUES (1, 'book-1', 1), (2, 'mug-3', 2);
