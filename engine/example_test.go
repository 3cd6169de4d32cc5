package engine_test

import (
	"fmt"
	"log"

	"zbench/engine"
)

// A pipeline: PUSH deals messages out to PULL peers; here one PULL socket
// receives them in order.
func Example_pushPull() {
	pull, err := engine.NewSocket(engine.PULL, engine.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
		log.Fatal(err)
	}

	push, err := engine.NewSocket(engine.PUSH, engine.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer push.Close()
	// Messages sent before the connection is up wait in its queue.
	if err := push.Connect(pull.Endpoints()[0]); err != nil {
		log.Fatal(err)
	}

	job := make([]byte, 0, 16)
	for i := 1; i <= 3; i++ {
		job = fmt.Appendf(job[:0], "job %d", i)
		// Send copies job: the buffer is free again when Send returns.
		if err := push.Send(job); err != nil {
			log.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		msg, err := pull.RecvMsg()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", msg[0])
	}
	// Output:
	// job 1
	// job 2
	// job 3
}

// Request and reply: a REP socket answers each request of a REQ socket. The
// REP side runs in a goroutine of its own, which uses both its send and its
// receive side; Close from another goroutine ends its RecvMsg.
func Example_reqRep() {
	rep, err := engine.NewSocket(engine.REP, engine.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		log.Fatal(err)
	}
	served := make(chan int)
	go func() {
		n := 0
		defer func() { served <- n }()
		for {
			req, err := rep.RecvMsg()
			if err != nil {
				return // engine.ErrClosed
			}
			if err := rep.Send(append([]byte("re: "), req[0]...)); err != nil {
				return
			}
			n++
		}
	}()

	req, err := engine.NewSocket(engine.REQ, engine.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}
	if err := req.Connect(rep.Endpoints()[0]); err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{"hello", "how are you?"} {
		if err := req.Send([]byte(q)); err != nil {
			log.Fatal(err)
		}
		reply, err := req.RecvMsg()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", reply[0])
	}
	req.Close()
	rep.Close()
	fmt.Println("requests served:", <-served)
	// Output:
	// re: hello
	// re: how are you?
	// requests served: 2
}
