#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a POSIX mutex: the lock every QLinear type that is shared between tasks uses.
///
/// Why not the standard library's `Mutex`: on Linux its contended path locks and unlocks in the
/// kernel (priority-inheriting futexes) from the uninstrumented runtime, so ThreadSanitizer sees no
/// happens-before edge between two holders that met under contention and reports a race on the
/// guarded value (CI failed on exactly that: two tasks building pipelines in one cache). TSan
/// intercepts `pthread_mutex_lock`/`unlock`, so this lock is both correct and checkable.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Kept outside the object, like the mutex: a stored `var` would carry Swift's dynamic
    // exclusivity markers, which ThreadSanitizer checks on their own (and places oddly for an
    // empty `Value` such as `Void`), apart from the lock that actually orders the accesses.
    private let value: UnsafeMutablePointer<Value>

    public init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        // Default attributes: initialisation cannot fail for lack of resources on Linux or Darwin.
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        self.value = .allocate(capacity: 1)
        self.value.initialize(to: value)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    /// Runs `body` with exclusive access to the value. Not reentrant: `body` must not lock again.
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
