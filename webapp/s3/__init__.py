"""S3 as IC Studio answers it: users' buckets, owned one by one, kept in the store IC Studio is configured with."""
