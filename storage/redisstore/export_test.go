package redisstore

// EntryKey returns the name of the Redis hash that holds key's variants.
func (s *Store) EntryKey(key string) string { return s.entryKey(key) }

// IndexKey returns the name of the Redis set of url's partitions.
func (s *Store) IndexKey(url string) string { return s.indexKey(url) }
