package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
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

    private static Path dir;

    private ParserProperties() {
    }

    /** A parser of a file, for {@link #parseFile}. */
    @FunctionalInterface
    public interface FileParser<T> {
        T parse(Path file) throws Exception;
    }

    /**
     * The file harness of the parser properties: writes {@code bytes} to a temporary file, runs {@code parser} on it
     * ({@link #run}, 5 s limit), checks the outcome ({@link #check}: a value or {@code documented}, at most 8 MiB plus
     * 16 bytes per input byte of heap), deletes the file and returns the outcome for the caller's own checks.
     */
    public static <T> Outcome<T> parseFile(byte[] bytes, Class<? extends Throwable> documented, FileParser<T> parser)
            throws Exception {
        Path p = Files.createTempFile(dir(), "prop", ".bin");
        Files.write(p, bytes);
        try {
            Outcome<T> o = run(() -> parser.parse(p), Duration.ofSeconds(5));
            check(o, documented, (8L << 20) + 16L * bytes.length);
            return o;
        } finally {
            Files.delete(p);
        }
    }

    /** One temporary directory per test JVM, removed at exit (every file in it is deleted after its parse). */
    private static synchronized Path dir() throws Exception {
        if (dir == null) {
            dir = Files.createTempDirectory("parser-props");
            dir.toFile().deleteOnExit();
        }
        return dir;
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
