package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.Set;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.openmbean.TabularData;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.testing.TestDevice;

class MemoryMBeansTest {
    private final MBeanServer server = ManagementFactory.getPlatformMBeanServer();

    @Test
    void poolBeanIsRegisteredWithDeviceAndNameAndShowsTheStatistics() throws Exception {
        TestDevice dev = new TestDevice("cuda:7");
        BufferPool pool = BufferPool.builder(dev).name("jmx pool").build();
        ObjectName on = pool.objectName();
        assertThat(on.getDomain()).isEqualTo("org.tensorbuffer");
        assertThat(on.getKeyProperty("type")).isEqualTo("BufferPool");
        assertThat(ObjectName.unquote(on.getKeyProperty("device"))).isEqualTo("cuda:7");
        assertThat(on.getKeyProperty("name")).isEqualTo("jmx pool");
        assertThat(on.toString()).isEqualTo("org.tensorbuffer:type=BufferPool,device=\"cuda:7\",name=jmx pool");
        Set<ObjectName> found = server.queryNames(new ObjectName("org.tensorbuffer:type=BufferPool,*"), null);
        assertThat(found).contains(on);

        Block a = pool.take(100);
        pool.take(100).release();
        a.release();
        pool.take(100).release();
        assertThat(server.getAttribute(on, "Requests")).isEqualTo(3L);
        assertThat(server.getAttribute(on, "Hits")).isEqualTo(1L);
        assertThat(server.getAttribute(on, "Misses")).isEqualTo(2L);
        assertThat(server.getAttribute(on, "ReservedBytes")).isEqualTo(256L);
        assertThat(server.getAttribute(on, "LiveBytes")).isEqualTo(0L);
        assertThat((Double) server.getAttribute(on, "HitRate")).isCloseTo(1 / 3.0, org.assertj.core.data.Offset
                .offset(1e-12));
        TabularData classes = (TabularData) server.getAttribute(on, "SizeClassRequests");
        assertThat(classes.size()).isEqualTo(1);
        assertThat(server.getAttribute(on, "Device")).isEqualTo("cuda:7");
        server.invoke(on, "emptyCache", null, null);
        assertThat(server.getAttribute(on, "ReservedBytes")).isEqualTo(0L);

        pool.close();
        assertThat(server.isRegistered(on)).isFalse();
    }

    @Test
    void tensorBufferBeanIsRegisteredAndRemovedOnClose() throws Exception {
        TestDevice dev = new TestDevice("jmxdev");
        BufferPool pool = BufferPool.of(dev);
        TensorBuffer tb = new TensorBuffer(pool, "activations");
        ObjectName on = tb.objectName();
        assertThat(server.isRegistered(on)).isTrue();
        assertThat(on.getKeyProperty("type")).isEqualTo("TensorBuffer");
        assertThat(on.getKeyProperty("name")).isEqualTo("activations");
        assertThat(on.getKeyProperty("device")).isEqualTo("jmxdev");
        assertThat(on.getKeyProperty("id")).isNull();
        tb.reserve(Shape.of(8), DType.F32, 2);
        tb.take(Shape.of(8), DType.F32).release();
        assertThat(server.getAttribute(on, "Hits")).isEqualTo(1L);
        assertThat(server.getAttribute(on, "ReservedBytes")).isEqualTo(64L);
        assertThat(server.getAttribute(on, "Shapes")).isEqualTo(1);
        tb.close();
        pool.close();
        assertThat(server.isRegistered(on)).isFalse();
        assertThat(server.isRegistered(pool.objectName())).isFalse();
    }

    @Test
    void twoPoolsOfTheSameNameGetDistinctNames() {
        TestDevice dev = new TestDevice("dup");
        try (BufferPool a = BufferPool.of(dev); BufferPool b = BufferPool.of(dev)) {
            assertThat(a.objectName()).isNotEqualTo(b.objectName());
            assertThat(server.isRegistered(a.objectName())).isTrue();
            assertThat(server.isRegistered(b.objectName())).isTrue();
        }
    }

    @Test
    void namesAreStableAndASecondPoolOfTheSameNameGetsAnId() throws Exception {
        TestDevice dev = new TestDevice("stable");
        try (BufferPool a = BufferPool.builder(dev).name("twin").build();
             BufferPool b = BufferPool.builder(dev).name("twin").build()) {
            assertThat(a.objectName()).isEqualTo(new ObjectName("org.tensorbuffer:type=BufferPool,device=stable,name=twin"));
            assertThat(b.objectName().getKeyProperty("id")).isNotNull();
            assertThat(server.isRegistered(a.objectName())).isTrue();
            assertThat(server.isRegistered(b.objectName())).isTrue();
        }
        try (BufferPool again = BufferPool.builder(dev).name("twin").build()) {
            assertThat(again.objectName()).as("the name is free again after close")
                    .isEqualTo(new ObjectName("org.tensorbuffer:type=BufferPool,device=stable,name=twin"));
        }
    }
}
