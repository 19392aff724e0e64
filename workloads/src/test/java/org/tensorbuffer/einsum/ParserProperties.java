package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Shared checks of the parser property tests: a parse runs on its own thread under a time limit (no hang) and the
 * bytes it allocates on the Java heap are measured (no allocation larger than the input implies; the bounds allow
 * 8 MiB for first-call costs such as class loading and exception messages, far below what a header value such as a
 * vocabulary of 2^31 tokens would make a parser allocate).
 */
public final class ParserProperties {
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "parser-property");
        t.setDaemon(true);
        return t;
    });

    private ParserProperties() {
    }

    /** What a parse did: its value or its exception, and the heap bytes it allocated. */
    public record Outcome<T>(T value, Throwable thrown, long allocatedBytes) {
    }

    /** Runs {@code parse} with a time limit, returning its outcome; fails the property on a timeout. */
    public static <T> Outcome<T> run(Callable<T> parse, Duration limit) throws Exception {
        Future<Outcome<T>> f = POOL.submit(() -> {
            ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
            long before = mx.getCurrentThreadAllocatedBytes();
            T value = null;
            Throwable thrown = null;
            try {
                value = parse.call();
            } catch (Throwable t) {
                thrown = t;
            }
            return new Outcome<>(value, thrown, mx.getCurrentThreadAllocatedBytes() - before);
        });
        try {
            return f.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new AssertionError("parse did not finish within " + limit + " (hang)");
        }
    }

    /** Asserts the outcome is a value or an exception of {@code documented}, within {@code maxBytes} of heap. */
    public static void check(Outcome<?> o, Class<? extends Throwable> documented, long maxBytes) {
        if (o.thrown() != null) {
            assertThat(o.thrown()).as("only the documented exception").isInstanceOf(documented);
            assertThat(o.thrown().getMessage()).as("a message").isNotBlank();
        }
        assertThat(o.allocatedBytes()).as("heap bytes allocated by the parse").isLessThanOrEqualTo(maxBytes);
    }
}
