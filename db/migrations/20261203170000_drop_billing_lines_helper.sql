-- opsdb:destructive the billing helper's name passes to public.generate_billing_line_items' implementation
-- private._x implements public.x: the helper that writes one period's lines is
-- private.write_billing_line_items now, and private._generate_billing_line_items
-- (same arguments, a jsonb result) implements the public function. A function's
-- result type cannot change in place, so the helper goes before db/functions
-- creates both; only the nightly billing job called it.
drop function if exists private._generate_billing_line_items(uuid, date);
