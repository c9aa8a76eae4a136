"""The server side of `tests/stripe_fake.py`: localstripe with the Connect endpoints GigCX uses.

Imported only in the subprocess that `stripe_fake.LocalStripe` starts (it needs aiohttp and
localstripe); `app.build_app()` puts the parts together:

- `state`: what the fake keeps besides localstripe's store (faults, balance, options, counts);
- `resources`: the Account and Transfer objects, and fixes to localstripe's PaymentIntent;
- `connect`: the Connect routes (/v1/accounts, /v1/account_links, /v1/transfers, reversals);
- `control`: the test-only routes under /_test/ (faults, balance, options, shortcuts);
- `middleware`: fault injection and Stripe's Idempotency-Key rule on every POST /v1/ route.
"""
