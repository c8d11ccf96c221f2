//! tokio-http-hello [port] [--current-thread]: the same minimal HTTP/1.1
//! server as weft's examples/http_hello.cpp --serve (keep-alive, head read
//! line by line through a BufReader, one write_all per response, one task
//! per connection, 2 workers). Prints `listening 127.0.0.1:<port>`.
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
const RESPONSE_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!";

async fn serve(sock: tokio::net::TcpStream) {
    let _ = sock.set_nodelay(true);
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::with_capacity(4096, rd);
    let mut line = String::new();
    loop {
        let mut close = false;
        let mut any = false;
        loop {
            line.clear();
            match rd.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            any = true;
            if line.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
        }
        if !any {
            continue;
        }
        let r = if close { RESPONSE_CLOSE } else { RESPONSE };
        if wr.write_all(r).await.is_err() || close {
            return;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(0);
    let current = args.iter().any(|a| a == "--current-thread");
    let rt = if current {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    }
    .enable_all()
    .build()
    .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        println!("listening {}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                if let Ok((sock, _)) = listener.accept().await {
                    tokio::spawn(serve(sock));
                }
            }
        })
        .await
        .unwrap();
    });
}
