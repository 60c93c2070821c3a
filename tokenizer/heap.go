package tokenizer

// priorityQueue is a binary heap whose first element is the one that less
// puts before all others. Encoding (merge candidates by rank) and training
// (pairs by count) both use it.
type priorityQueue[T any] struct {
	items []T
	less  func(a, b T) bool
}

// Len is the number of queued items.
func (q *priorityQueue[T]) Len() int { return len(q.items) }

// push adds v.
func (q *priorityQueue[T]) push(v T) {
	q.items = append(q.items, v)
	s := q.items
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes and returns the first item; the queue must not be empty.
func (q *priorityQueue[T]) pop() T {
	s := q.items
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(s[l], s[m]) {
			m = l
		}
		if r < n && q.less(s[r], s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	q.items = s
	return top
}
