package org.tensorbuffer.leak;

import java.lang.ref.Cleaner;
import org.slf4j.LoggerFactory;

/**
 * The handle {@link LeakDetector#track} returns for one tracked resource. {@link #clean()} it when the resource is
 * closed properly; otherwise, once the resource is unreachable, the leak is reported and the memory returned.
 * Thread-safe.
 */
final class LeakTracker implements Cleaner.Cleanable {
    private final Cleaner.Cleanable cleanable;
    private final State state;

    LeakTracker(Cleaner.Cleanable cleanable, State state) {
        this.cleanable = cleanable;
        this.state = state;
    }

    /** Marks the resource as properly closed; nothing will be reported. Idempotent. */
    @Override
    public void clean() {
        state.closed = true;
        cleanable.clean();
    }

    /** The Cleaner action: must not refer to the tracked object. */
    static final class State implements Runnable {
        final String description;
        final long bytes;
        final Throwable site;
        final Runnable release;
        volatile boolean closed;

        State(String description, long bytes, Throwable site, Runnable release) {
            this.description = description;
            this.bytes = bytes;
            this.site = site;
            this.release = release;
        }

        @Override
        public void run() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                release.run();
            } catch (RuntimeException e) {
                LoggerFactory.getLogger(LeakDetector.class).warn("could not return the memory of leaked {}",
                        description, e);
            }
            LeakDetector.report(new LeakReport(LeakReport.Kind.UNREACHABLE, description, 1, bytes, site));
        }
    }
}
