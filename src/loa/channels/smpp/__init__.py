"""SMPP v3.4: the PDU codec (`pdu`), delivery receipts (`receipts`) and the channel (`client`)."""
