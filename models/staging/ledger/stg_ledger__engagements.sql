{{ dms_changes(source('ledger', 'engagements')) }}
