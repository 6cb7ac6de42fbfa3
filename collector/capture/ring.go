//go:build linux

package capture

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"syscall"
)

// ring reads a BPF_MAP_TYPE_RINGBUF map through its memory mapping, in batches, without copying
// records or sending them through a channel (libbpfgo's reader does both, once per event).
//
// The kernel's layout: page 0 holds the consumer position (we write it), page 1 the producer
// position, then the data area mapped twice in a row so a record that wraps is still contiguous.
// Each record starts with an 8-byte header: length (with busy and discard bits) and page offset.
type ring struct {
	fd       int
	mask     uint64
	consumer []byte
	producer []byte
	data     []byte
	epfd     int
}

const (
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
	ringHdrSize    = 8
)

func newRing(fd int, size int) (*ring, error) {
	if size <= 0 || size&(size-1) != 0 {
		return nil, fmt.Errorf("ring buffer size %d is not a power of two", size)
	}
	page := os.Getpagesize()
	cons, err := syscall.Mmap(fd, 0, page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap ring buffer consumer page: %w", err)
	}
	prod, err := syscall.Mmap(fd, int64(page), page+2*size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		_ = syscall.Munmap(cons)
		return nil, fmt.Errorf("mmap ring buffer data: %w", err)
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		_ = syscall.Munmap(cons)
		_ = syscall.Munmap(prod)
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Munmap(cons)
		_ = syscall.Munmap(prod)
		return nil, fmt.Errorf("epoll_ctl ring buffer: %w", err)
	}
	return &ring{fd: fd, mask: uint64(size - 1), consumer: cons, producer: prod, data: prod[page:], epfd: epfd}, nil
}

func (r *ring) consPos() *uint64 { return (*uint64)(unsafe.Pointer(&r.consumer[0])) }
func (r *ring) prodPos() *uint64 { return (*uint64)(unsafe.Pointer(&r.producer[0])) }

// consume hands every committed record to fn and releases the space once the batch is done. The
// slice passed to fn is only valid during the call. It returns the number of records read.
func (r *ring) consume(fn func([]byte)) int {
	cons := atomic.LoadUint64(r.consPos())
	prod := atomic.LoadUint64(r.prodPos())
	n := 0
	for cons < prod {
		off := cons & r.mask
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[off])))
		if hdr&ringBusyBit != 0 {
			break // still being written
		}
		length := uint64(hdr &^ (ringBusyBit | ringDiscardBit))
		if hdr&ringDiscardBit == 0 {
			start := off + ringHdrSize
			fn(r.data[start : start+length : start+length])
			n++
		}
		cons += (length + ringHdrSize + 7) &^ 7
		// Release as we go: a large batch would otherwise hold the whole ring until it ends.
		if n%256 == 0 {
			atomic.StoreUint64(r.consPos(), cons)
		}
	}
	atomic.StoreUint64(r.consPos(), cons)
	return n
}

// wait blocks until the kernel forces a wakeup (the ring is filling up) or timeout passes.
// Records are written without wakeups, so the timeout is what bounds latency.
func (r *ring) wait(timeout time.Duration) error {
	var evs [1]syscall.EpollEvent
	_, err := syscall.EpollWait(r.epfd, evs[:], int(timeout/time.Millisecond))
	if err != nil && err != syscall.EINTR {
		return fmt.Errorf("epoll_wait ring buffer: %w", err)
	}
	return nil
}

func (r *ring) close() {
	_ = syscall.Close(r.epfd)
	_ = syscall.Munmap(r.producer)
	_ = syscall.Munmap(r.consumer)
}
