"""Mail: to visitors who left an address (replies they have not seen, transcripts), sent
through the outbox with SMTP (docs/email.md)."""
