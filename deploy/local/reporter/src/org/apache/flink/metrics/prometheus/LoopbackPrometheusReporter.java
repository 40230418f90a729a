package org.apache.flink.metrics.prometheus;

import io.prometheus.client.exporter.HTTPServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Iterator;
import org.apache.flink.util.PortRange;

/** Flink's PrometheusReporter, but the HTTP server binds `host` (e.g. 127.0.0.1) instead of the wildcard address. */
public class LoopbackPrometheusReporter extends AbstractPrometheusReporter {
    private HTTPServer httpServer;
    private int port;

    LoopbackPrometheusReporter(String host, PortRange ports) {
        Iterator<Integer> it = ports.getPortsIterator();
        while (it.hasNext()) {
            port = it.next();
            try {
                // same package as AbstractPrometheusReporter: `registry` is package-private there
                httpServer = new HTTPServer(new InetSocketAddress(host, port), registry, true);
                log.info("Started LoopbackPrometheusReporter HTTP server on {}:{}.", host, port);
                break;
            } catch (IOException e) {
                log.debug("Could not start LoopbackPrometheusReporter HTTP server on {}:{}.", host, port, e);
            }
        }
        if (httpServer == null) {
            throw new RuntimeException("Could not start PrometheusReporter HTTP server on " + host + " and any port in range " + ports);
        }
    }

    int getPort() {
        return port;
    }

    @Override
    public void close() {
        if (httpServer != null) {
            httpServer.stop();
        }
        super.close();
    }
}
