"""Secret material on disk: add-on credentials, age-encrypted or plain secrets, the hash key."""
