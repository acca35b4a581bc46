"""Services hold the rules (signing, tally, mail, tenants); views and jobs stay thin."""
