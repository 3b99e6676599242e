// nginx as the floor any proxy pays for the extra hop: a plain keep-alive reverse proxy with
// buffering off, one worker (the gateway is one event loop too), no access log.

export interface NginxConfigInput {
  prefixDir: string;
  listenPort: number;
  upstreamPort: number;
  runAsRoot: boolean;
}

export function nginxConfig(input: NginxConfigInput): string {
  const dir = input.prefixDir;
  return `${input.runAsRoot ? "user root;\n" : ""}worker_processes 1;
worker_rlimit_nofile 16384;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream worker {
    server 127.0.0.1:${input.upstreamPort};
    keepalive 512;
  }
  server {
    listen 127.0.0.1:${input.listenPort} backlog=4096;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    location / {
      proxy_pass http://worker;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`;
}
