-- Forwarding rules' secrets say how they are kept: `sealed:<base64>` (sealed with
-- TALLY_SECRET_KEY by the server) or `plain:<secret>`. The rules from before were kept as
-- given, so they become `plain:`. (Skipping the ones already marked keeps this safe to run
-- again.)
UPDATE forwarding_rules SET secret = 'plain:' || secret
WHERE secret NOT LIKE 'plain:%' AND secret NOT LIKE 'sealed:%';
