package org.tensorbuffer.observe;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.razorvine.pickle.Pickler;

/**
 * Writes a {@link MemoryHistory} in the format of PyTorch's {@code torch.cuda.memory._dump_snapshot()} (PyTorch 2.x,
 * {@code torch/cuda/memory.py} and {@code c10/cuda/CUDACachingAllocator.cpp}), so that PyTorch's own tools read it: the
 * viewer {@code torch/utils/viz/MemoryViz.js} (the page of {@code python -m torch.cuda._memory_viz trace_plot}) and
 * {@code torch.cuda._memory_viz} ({@code stats}, {@code segments}, {@code memory} on the {@code segments} list).
 *
 * <p>The pickle (protocol 2, written by Pyrolite's {@link Pickler} with its memo, so that a stack shared by events
 * is stored once) holds a dict with
 * <ul>
 *   <li>{@code segments}: the device allocations made while recording and still held, each
 *       {@code {device: 0, address, total_size, allocated_size, active_size, requested_size, stream: 0,
 *       segment_type: "small"|"large", is_expandable: False, frames, blocks}}; {@code blocks} tile the segment in
 *       address order, each {@code {address, size, requested_size, state, frames}} with state
 *       {@code active_allocated} for a live tensor's block and {@code inactive} for the rest (a cached pool block,
 *       the unused part of an arena), plus for recorded stacks torch 1.x's {@code history} list;</li>
 *   <li>{@code device_traces}: one list (device 0) of the kept events in order, each
 *       {@code {action, addr, size, stream: 0, time_us, frames}} with {@code action} one of {@code alloc},
 *       {@code free_requested} + {@code free_completed} (a tensor's last release; there are no pending stream frees),
 *       {@code segment_alloc}, {@code segment_free};</li>
 *   <li>{@code tensorbuffer}: this project's extras (description, live bytes at start, events dropped), ignored by
 *       PyTorch's readers.</li>
 * </ul>
 * A frame is {@code {filename, line, name}} for a Java frame ({@code name} is {@code Class.method}); frames are
 * present when the history recorded stacks, innermost first as in torch.
 *
 * <p>Tensor events whose device allocation is not known to the history (made before recording started, or whose event
 * the ring buffer dropped) are left out of the trace, so that every block the viewer draws lies in a segment.
 */
public final class TorchMemorySnapshot {
    private TorchMemorySnapshot() {
    }

    /**
     * Writes the snapshot of {@code history} to {@code path}.
     *
     * @throws IOException if the file cannot be written
     */
    public static void write(MemoryHistory history, Path path) throws IOException {
        try (OutputStream out = Files.newOutputStream(path)) {
            new Pickler(true).dump(build(history), out);
        }
    }

    /** The snapshot of {@code history} as pickle bytes. */
    public static byte[] pickle(MemoryHistory history) {
        try {
            return new Pickler(true).dumps(build(history));
        } catch (IOException e) {
            throw new IllegalStateException("pickling a memory snapshot", e);
        }
    }

    /** The snapshot as maps and lists (the Python dict Pyrolite pickles). */
    static Map<String, Object> build(MemoryHistory history) {
        try {
            return buildUncached(history);
        } finally {
            CACHE.remove();
        }
    }

    private static Map<String, Object> buildUncached(MemoryHistory history) {
        List<MemoryEvent> events = orderFrees(history.events());
        List<MemoryEvent> liveSegments = history.liveSegments();
        Map<String, Object> snapshot = new LinkedHashMap<>();
        snapshot.put("segments", segments(liveSegments, history.liveAllocations()));
        snapshot.put("device_traces", List.of(trace(events, liveSegments)));
        Map<String, Object> extras = new LinkedHashMap<>();
        extras.put("description", history.description());
        extras.put("live_bytes_at_start", history.liveBytesAtStart());
        extras.put("events_recorded", history.recordedCount());
        extras.put("events_dropped", history.droppedCount());
        snapshot.put("tensorbuffer", extras);
        return snapshot;
    }

    /**
     * A device free reported before the tensor free that caused it (the raw allocator frees on the last release)
     * is moved after it, so that a block never outlives its segment in the trace.
     */
    private static List<MemoryEvent> orderFrees(List<MemoryEvent> in) {
        List<MemoryEvent> out = new ArrayList<>(in);
        for (int i = 0; i + 1 < out.size(); i++) {
            MemoryEvent u = out.get(i);
            MemoryEvent f = out.get(i + 1);
            if (u.kind() == MemoryEvent.Kind.UNRESERVE && f.kind() == MemoryEvent.Kind.FREE
                    && f.address() >= u.address() && f.address() < u.address() + u.bytes()) {
                out.set(i, f);
                out.set(i + 1, u);
                i++;
            }
        }
        return out;
    }

    private static List<Object> segments(List<MemoryEvent> liveSegments, List<MemoryEvent> liveAllocs) {
        TreeMap<Long, List<MemoryEvent>> blocksBySegment = new TreeMap<>();
        TreeMap<Long, MemoryEvent> byAddress = new TreeMap<>();
        for (MemoryEvent s : liveSegments) {
            byAddress.put(s.address(), s);
            blocksBySegment.put(s.address(), new ArrayList<>());
        }
        for (MemoryEvent a : liveAllocs) {
            Map.Entry<Long, MemoryEvent> s = byAddress.floorEntry(a.address());
            if (s != null && a.address() + a.bytes() <= s.getKey() + s.getValue().bytes()) {
                blocksBySegment.get(s.getKey()).add(a);
            }
        }
        List<Object> out = new ArrayList<>();
        for (MemoryEvent s : byAddress.values()) {
            List<MemoryEvent> allocs = blocksBySegment.get(s.address());
            allocs.sort((x, y) -> Long.compare(x.address(), y.address()));
            List<Object> blocks = new ArrayList<>();
            long at = s.address();
            long end = s.address() + s.bytes();
            long allocated = 0;
            long requested = 0;
            for (MemoryEvent a : allocs) {
                if (a.address() < at) {
                    continue; // overlapping (cannot happen with whole blocks); keep the tiling exact
                }
                if (a.address() > at) {
                    blocks.add(inactive(at, a.address() - at));
                }
                Map<String, Object> b = new LinkedHashMap<>();
                b.put("address", a.address());
                b.put("size", a.bytes());
                b.put("requested_size", a.requestedBytes());
                b.put("state", "active_allocated");
                List<Object> frames = frames(a);
                b.put("frames", frames);
                if (a.frames() != null) {
                    Map<String, Object> h = new LinkedHashMap<>();
                    h.put("addr", a.address());
                    h.put("real_size", a.requestedBytes());
                    h.put("frames", frames);
                    b.put("history", List.of(h));
                }
                blocks.add(b);
                allocated += a.bytes();
                requested += a.requestedBytes();
                at = a.address() + a.bytes();
            }
            if (at < end) {
                blocks.add(inactive(at, end - at));
            }
            Map<String, Object> seg = new LinkedHashMap<>();
            seg.put("device", 0);
            seg.put("address", s.address());
            seg.put("total_size", s.bytes());
            seg.put("allocated_size", allocated);
            seg.put("active_size", allocated);
            seg.put("requested_size", requested);
            seg.put("stream", 0);
            seg.put("segment_type", s.bytes() <= MemoryCounters.SMALL_SIZE ? "small" : "large");
            seg.put("is_expandable", false);
            seg.put("frames", frames(s));
            seg.put("blocks", blocks);
            out.add(seg);
        }
        return out;
    }

    private static Map<String, Object> inactive(long address, long size) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("address", address);
        b.put("size", size);
        b.put("requested_size", 0L);
        b.put("state", "inactive");
        b.put("frames", List.of());
        return b;
    }

    /**
     * The trace of device 0. Walks the events backwards from the segments held at the end (as MemoryViz replays
     * them) and keeps a tensor event only if its address lies in a segment held right after it.
     */
    private static List<Object> trace(List<MemoryEvent> events, List<MemoryEvent> liveSegments) {
        TreeMap<Long, Long> held = new TreeMap<>();
        for (MemoryEvent s : liveSegments) {
            held.put(s.address(), s.bytes());
        }
        boolean[] keep = new boolean[events.size()];
        for (int i = events.size() - 1; i >= 0; i--) {
            MemoryEvent e = events.get(i);
            switch (e.kind()) {
                case RESERVE -> {
                    keep[i] = true;
                    held.remove(e.address());
                }
                case UNRESERVE -> {
                    keep[i] = true;
                    held.put(e.address(), e.bytes());
                }
                case ALLOC, FREE -> {
                    Map.Entry<Long, Long> s = held.floorEntry(e.address());
                    keep[i] = s != null && e.address() + e.bytes() <= s.getKey() + s.getValue();
                }
            }
        }
        List<Object> trace = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            if (!keep[i]) {
                continue;
            }
            MemoryEvent e = events.get(i);
            switch (e.kind()) {
                case ALLOC -> trace.add(entry("alloc", e));
                case FREE -> {
                    trace.add(entry("free_requested", e));
                    trace.add(entry("free_completed", e));
                }
                case RESERVE -> trace.add(entry("segment_alloc", e));
                case UNRESERVE -> trace.add(entry("segment_free", e));
            }
        }
        return trace;
    }

    private static Map<String, Object> entry(String action, MemoryEvent e) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("action", action);
        t.put("addr", e.address());
        t.put("size", e.bytes());
        t.put("stream", 0);
        t.put("time_us", e.timeNanos() / 1000);
        t.put("frames", frames(e));
        return t;
    }

    /** Frame lists by the event's list (a FREE shares its ALLOC's), frames by value: pickled once each. */
    private static final ThreadLocal<Map<Object, Object>> CACHE = ThreadLocal.withInitial(HashMap::new);

    @SuppressWarnings("unchecked")
    private static List<Object> frames(MemoryEvent e) {
        if (e.frames() == null) {
            return List.of();
        }
        Map<Object, Object> cache = CACHE.get();
        Object cached = cache.get(new Identity(e.frames()));
        if (cached != null) {
            return (List<Object>) cached;
        }
        List<Object> out = new ArrayList<>(e.frames().size());
        for (StackTraceElement f : e.frames()) {
            out.add(cache.computeIfAbsent(f, k -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("filename", f.getFileName() == null ? "<unknown>" : f.getFileName());
                m.put("line", Math.max(0, f.getLineNumber()));
                m.put("name", f.getClassName() + "." + f.getMethodName());
                return m;
            }));
        }
        cache.put(new Identity(e.frames()), out);
        return out;
    }

    /** Identity as a map key. */
    private record Identity(Object o) {
        @Override
        public boolean equals(Object other) {
            return other instanceof Identity i && i.o == o;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(o);
        }
    }
}
