package org.tensorbuffer.memory;

import java.lang.management.ManagementFactory;
import java.lang.ref.WeakReference;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.InstanceAlreadyExistsException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers the {@link BufferPoolMXBean} and {@link TensorBufferMXBean} of each allocator with the platform MBean
 * server, under a stable name {@code org.tensorbuffer:type=BufferPool|TensorBuffer,device=<id>,name=<name>}, the
 * values quoted only when JMX requires it (a value holding {@code , = : * ? "} or a newline, e.g. {@code "cuda:0"}),
 * so that jmx_exporter rules and dashboards can name it. When an allocator of the same type, device and name is
 * already registered, the newcomer gets {@code ,id=<n>} (a per-JVM
 * sequence number) so that neither clashes. The MBeans hold their allocator weakly, so
 * registration never keeps an unclosed allocator alive. Set the system property {@code tensorbuffer.jmx=false} to turn
 * registration off. Thread-safe.
 */
final class MemoryMBeans {
    private static final Logger LOG = LoggerFactory.getLogger(MemoryMBeans.class);
    private static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("tensorbuffer.jmx"));
    private static final AtomicLong SEQ = new AtomicLong();
    /** The JMX domain. */
    public static final String DOMAIN = "org.tensorbuffer";

    private MemoryMBeans() {
    }

    static ObjectName register(BufferPool pool) {
        return register("BufferPool", pool.device().id(), pool.name(), new PoolBean(pool), BufferPoolMXBean.class);
    }

    static ObjectName register(TensorBuffer tb) {
        return register("TensorBuffer", tb.device().id(), tb.name(), new TensorBufferBean(tb),
                TensorBufferMXBean.class);
    }

    private static <T> ObjectName register(String type, String device, String name, T bean, Class<T> iface) {
        if (!ENABLED) {
            return null;
        }
        try {
            String base = DOMAIN + ":type=" + type + ",device=" + value(device) + ",name=" + value(name);
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            ObjectName on = new ObjectName(base);
            try {
                server.registerMBean(new StandardMBean(bean, iface, true), on);
            } catch (InstanceAlreadyExistsException e) {
                on = new ObjectName(base + ",id=" + SEQ.incrementAndGet());
                server.registerMBean(new StandardMBean(bean, iface, true), on);
            }
            return on;
        } catch (JMException | RuntimeException e) {
            LOG.warn("could not register the JMX bean of {} {}/{}", type, device, name, e);
            return null;
        }
    }

    /** {@code v} as an ObjectName value: as is when JMX allows it unquoted, else {@link ObjectName#quote}. */
    static String value(String v) {
        for (int i = 0; i < v.length(); i++) {
            if (",=:*?\"\n".indexOf(v.charAt(i)) >= 0) {
                return ObjectName.quote(v);
            }
        }
        return v.isEmpty() ? ObjectName.quote(v) : v;
    }

    static void unregister(ObjectName on) {
        if (on == null) {
            return;
        }
        try {
            ManagementFactory.getPlatformMBeanServer().unregisterMBean(on);
        } catch (JMException e) {
            LOG.debug("JMX bean {} was already unregistered", on, e);
        }
    }

    private static final class PoolBean implements BufferPoolMXBean {
        private final WeakReference<BufferPool> ref;
        private final String name;
        private final String device;

        PoolBean(BufferPool pool) {
            this.ref = new WeakReference<>(pool);
            this.name = pool.name();
            this.device = pool.device().id();
        }

        private PoolStats s() {
            BufferPool p = ref.get();
            return p == null ? new PoolStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) : p.stats();
        }

        private Map<String, Long> classes(int row) {
            BufferPool p = ref.get();
            Map<String, Long> m = new LinkedHashMap<>();
            if (p != null) {
                long[][] c = p.sizeClassCounts();
                for (int i = 0; i < c[0].length; i++) {
                    m.put(Long.toString(c[0][i]), c[row][i]);
                }
            }
            return m;
        }

        @Override public String getName() { return name; }
        @Override public String getDevice() { return device; }
        @Override public boolean isClosed() { BufferPool p = ref.get(); return p == null || p.isClosed(); }
        @Override public long getRequests() { return s().requests(); }
        @Override public long getHits() { return s().hits(); }
        @Override public long getMisses() { return s().misses(); }
        @Override public double getHitRate() { return s().hitRate(); }
        @Override public long getRawAllocations() { return s().rawAllocations(); }
        @Override public long getRawFrees() { return s().rawFrees(); }
        @Override public long getEvictions() { return s().evictions(); }
        @Override public long getLiveBytes() { return s().liveBytes(); }
        @Override public long getPeakLiveBytes() { return s().peakLiveBytes(); }
        @Override public long getCachedBytes() { return s().cachedBytes(); }
        @Override public long getReservedBytes() { return s().reservedBytes(); }
        @Override public long getPeakReservedBytes() { return s().peakReservedBytes(); }
        @Override public long getAllocRetries() { return s().allocRetries(); }
        @Override public long getOoms() { return s().ooms(); }
        @Override public long getBudgetBytes() { return s().budgetBytes(); }
        @Override public Map<String, Long> getSizeClassRequests() { return classes(1); }
        @Override public Map<String, Long> getSizeClassHits() { return classes(2); }

        @Override
        public void emptyCache() {
            BufferPool p = ref.get();
            if (p != null && !p.isClosed()) {
                p.emptyCache();
            }
        }

        @Override
        public void resetPeak() {
            BufferPool p = ref.get();
            if (p != null) {
                p.resetPeak();
            }
        }
    }

    private static final class TensorBufferBean implements TensorBufferMXBean {
        private final WeakReference<TensorBuffer> ref;
        private final String name;
        private final String device;

        TensorBufferBean(TensorBuffer tb) {
            this.ref = new WeakReference<>(tb);
            this.name = tb.name();
            this.device = tb.device().id();
        }

        private TensorBufferStats s() {
            TensorBuffer t = ref.get();
            return t == null ? new TensorBufferStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) : t.stats();
        }

        @Override public String getName() { return name; }
        @Override public String getDevice() { return device; }
        @Override public long getRequests() { return s().requests(); }
        @Override public long getHits() { return s().hits(); }
        @Override public long getMisses() { return s().misses(); }
        @Override public double getHitRate() { return s().hitRate(); }
        @Override public long getRawAllocations() { return s().rawAllocations(); }
        @Override public long getRawFrees() { return s().rawFrees(); }
        @Override public long getLiveBytes() { return s().liveBytes(); }
        @Override public long getPeakLiveBytes() { return s().peakLiveBytes(); }
        @Override public long getCachedBytes() { return s().cachedBytes(); }
        @Override public long getReservedBytes() { return s().reservedBytes(); }
        @Override public long getPeakReservedBytes() { return s().peakReservedBytes(); }
        @Override public long getLearnableBytes() { return s().learnableBytes(); }
        @Override public long getReservedBlocks() { return s().reservedBlocks(); }
        @Override public int getShapes() { return s().shapes(); }

        @Override
        public void resetPeak() {
            TensorBuffer t = ref.get();
            if (t != null) {
                t.resetPeak();
            }
        }
    }
}
