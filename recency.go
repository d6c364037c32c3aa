package httpcache

// recencyList orders the items of a store that evicts the least recently
// used: most recently used at the head. Items embed a recencyNode that
// points back to them, so the list allocates nothing of its own.
type recencyList[T any] struct {
	head, tail *recencyNode[T]
}

// recencyNode is an item's place in a recencyList.
type recencyNode[T any] struct {
	item       T
	prev, next *recencyNode[T]
}

// pushFront puts n, not in the list, at its head.
func (l *recencyList[T]) pushFront(n *recencyNode[T]) {
	n.prev, n.next = nil, l.head
	if l.head != nil {
		l.head.prev = n
	}
	l.head = n
	if l.tail == nil {
		l.tail = n
	}
}

// remove takes n out of the list.
func (l *recencyList[T]) remove(n *recencyNode[T]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else if l.head == n {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else if l.tail == n {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

// touch makes n the most recently used, adding it to the list if it is not
// in it.
func (l *recencyList[T]) touch(n *recencyNode[T]) {
	if l.head == n {
		return
	}
	if n.prev != nil { // in the list, not at its head
		l.remove(n)
	}
	l.pushFront(n)
}

// evictionVictim returns the least recently used node but keep, or nil.
func (l *recencyList[T]) evictionVictim(keep *recencyNode[T]) *recencyNode[T] {
	victim := l.tail
	if victim != nil && victim == keep {
		victim = keep.prev
	}
	return victim
}
