{{ dms_changes(source('ledger', 'invoices')) }}
