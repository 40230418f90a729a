-- Silver reference data: customers, stores and products (streamflow.models Customer, Store, Product),
-- loaded by `streamflow seed` from the generator's world and used to enrich silver transactions.

CREATE TABLE IF NOT EXISTS silver.customers (
    customer_id  text PRIMARY KEY,
    state        text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),  -- Brazilian UF
    latitude     double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude    double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    created_at   timestamptz NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS customers_state_ix ON silver.customers (state);

CREATE TABLE IF NOT EXISTS silver.stores (
    store_id   text PRIMARY KEY,
    name       text NOT NULL,
    state      text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    latitude   double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude  double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    loaded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stores_state_ix ON silver.stores (state);

CREATE TABLE IF NOT EXISTS silver.products (
    product_id  text PRIMARY KEY,
    category    text NOT NULL,
    price       numeric(12,2) NOT NULL CHECK (price > 0),
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS products_category_ix ON silver.products (category);
