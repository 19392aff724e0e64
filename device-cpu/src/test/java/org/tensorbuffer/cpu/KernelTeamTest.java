package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link KernelTeam}: every part of every call runs exactly once, on the caller or one of the team's workers, also
 * when there are more parts than threads and after idle periods longer than the spin bound (parked workers); parts
 * run concurrently; failures come back to the caller; a busy team (another caller, a part calling back) runs the
 * parts on the caller.
 */
class KernelTeamTest {

    @ParameterizedTest
    @CsvSource({"2, 0", "2, 1000", "3, 50", "4, 1000"})
    void everyPartRunsOnceOnTheTeam(int size, long spinMicros) throws InterruptedException {
        KernelTeam team = new KernelTeam(size, spinMicros);
        String caller = Thread.currentThread().getName();
        for (int call = 0; call < 2000; call++) {
            int parts = 1 + call % (3 * size);
            AtomicIntegerArray runs = new AtomicIntegerArray(parts);
            AtomicReferenceArray<String> names = new AtomicReferenceArray<>(parts);
            team.run(parts, p -> {
                runs.incrementAndGet(p);
                names.set(p, Thread.currentThread().getName());
            });
            for (int p = 0; p < parts; p++) {
                assertThat(runs.get(p)).as("runs of part %d of call %d", p, call).isEqualTo(1);
                String name = names.get(p);
                assertThat(name.equals(caller) || name.matches("tensorbuffer-kernel-[1-" + (size - 1) + "]"))
                        .as("thread %s of part %d", name, p).isTrue();
            }
            if (call % 500 == 499) {
                Thread.sleep(3); // longer than the spin bound: the workers park and must be woken
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"2, 0", "2, 1000", "3, 1000"})
    void partsRunConcurrently(int size, long spinMicros) {
        KernelTeam team = new KernelTeam(size, spinMicros);
        for (int call = 0; call < 20; call++) {
            // Whichever thread takes the first part waits there until every other part has run: only another
            // thread can run them.
            int parts = 2 + call % 5;
            CountDownLatch others = new CountDownLatch(parts - 1);
            AtomicIntegerArray waited = new AtomicIntegerArray(1);
            team.run(parts, p -> {
                if (p == 0) {
                    try {
                        waited.set(0, others.await(10, java.util.concurrent.TimeUnit.SECONDS) ? 1 : -1);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                } else {
                    others.countDown();
                }
            });
            assertThat(waited.get(0)).as("call %d: the other parts ran while part 0 waited", call).isEqualTo(1);
        }
    }

    @Test
    void writesOfEveryPartAreVisibleToTheCaller() {
        KernelTeam team = new KernelTeam(3, 20);
        long[] cells = new long[3 * 1000];
        for (int call = 1; call <= 300; call++) {
            int c = call;
            team.run(3, p -> {
                for (int i = p * 1000; i < (p + 1) * 1000; i++) {
                    cells[i] = (long) c * i;
                }
            });
            for (int i = 0; i < cells.length; i++) {
                if (cells[i] != (long) c * i) {
                    throw new AssertionError("call " + c + ": cell " + i + " is " + cells[i]);
                }
            }
        }
    }

    @Test
    void aPartsFailureIsRethrownAfterAllPartsEnded() {
        KernelTeam team = new KernelTeam(3, 100);
        AtomicIntegerArray done = new AtomicIntegerArray(3);
        assertThatThrownBy(() -> team.run(3, p -> {
            if (p == 2) {
                throw new IllegalStateException("part 2 failed");
            }
            done.set(p, 1);
        })).isInstanceOf(IllegalStateException.class).hasMessage("part 2 failed");
        assertThat(done.get(0)).isEqualTo(1);
        assertThat(done.get(1)).isEqualTo(1);
        // the team still works afterwards
        AtomicIntegerArray runs = new AtomicIntegerArray(3);
        team.run(3, runs::incrementAndGet);
        assertThat(runs.toString()).isEqualTo("[1, 1, 1]");
    }

    @Test
    void aPartCallingBackRunsTheInnerCallOnItsOwnThread() {
        KernelTeam team = new KernelTeam(2, 100);
        AtomicReferenceArray<String> outer = new AtomicReferenceArray<>(2);
        AtomicReferenceArray<String> inner = new AtomicReferenceArray<>(4);
        team.run(2, p -> {
            outer.set(p, Thread.currentThread().getName());
            team.run(2, q -> inner.set(2 * p + q, Thread.currentThread().getName()));
        });
        for (int i = 0; i < 4; i++) {
            assertThat(inner.get(i)).as("inner part %d", i).isEqualTo(outer.get(i / 2));
        }
    }

    @Test
    void concurrentCallersAllComplete() throws Exception {
        KernelTeam team = new KernelTeam(2, 50);
        int callers = 4;
        int calls = 2000;
        AtomicIntegerArray sums = new AtomicIntegerArray(callers);
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            int id = c;
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                for (int i = 0; i < calls; i++) {
                    team.run(2, p -> sums.addAndGet(id, p + 1));
                }
            });
            t.start();
            threads.add(t);
        }
        start.countDown();
        for (Thread t : threads) {
            t.join(60_000);
            assertThat(t.isAlive()).isFalse();
        }
        for (int c = 0; c < callers; c++) {
            assertThat(sums.get(c)).as("caller %d", c).isEqualTo(3 * calls);
        }
    }

    @Test
    void rejectsBadSizes() {
        assertThatThrownBy(() -> new KernelTeam(1, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("size >= 2");
        KernelTeam team = new KernelTeam(2, 0);
        assertThatThrownBy(() -> team.run(0, p -> { })).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot run 0 parts");
    }
}
