{{ dms_changes(source('ledger', 'clients')) }}
