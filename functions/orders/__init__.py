"""orders: carts, checkout with a transactional outbox, order history (owner of `orders`)."""
