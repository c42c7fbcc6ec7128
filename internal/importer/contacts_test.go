package importer_test

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// contactsHeader is a CRM export's header row (HubSpot's column names).
const contactsHeader = "Record ID,Email,First Name,Last Name,Phone Number,Company Name,Job Title,Country,Lifecycle Stage,Create Date,Email Opt In\n"

var (
	firstNames = []string{"Ana", "James", "Sofia", "Wei", "Marie", "Priya", "Tom", "Kenji", "Olivia", "Diego", "Fatima", "Lukas"}
	lastNames  = []string{"Souza", "Miller", "Rossi", "Li", "Dubois", "Nair", "Schmidt", "Tanaka", "Brown", "García", "Haddad", "Novak"}
	companies  = []string{"Acme Logistics", "Northwind", "Bluepeak", "\"Fromagerie Dubois, SARL\"", "Kiteworks", "Example GmbH", "Harbor & Co"}
	titles     = []string{"Head of Operations", "CTO", "Product Manager", "Owner", "VP Engineering", "Director of Sales", "Engineer", "CFO"}
	stages     = []string{"Lead", "Lead", "Lead", "Subscriber", "Marketing Qualified Lead", "Sales Qualified Lead", "Customer"}
)

// writeContacts writes a CRM contacts export of n people, each with their
// own email and Brazilian mobile number (so nobody is merged with anybody),
// rows numbered from first.
func writeContacts(w io.Writer, first, n int, header bool) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if header {
		bw.WriteString(contactsHeader)
	}
	created := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := first; i < first+n; i++ {
		optIn := ""
		switch i % 3 {
		case 0:
			optIn = "yes"
		case 1:
			optIn = "no"
		}
		fmt.Fprintf(bw, "%d,person%d@company%d.example.com,%s,%s,+55 11 9%04d-%04d,%s,%s,BR,%s,%s,%s\n",
			100000+i, i, i%997, firstNames[i%len(firstNames)], lastNames[i%len(lastNames)], (i/10000)%10000, i%10000,
			companies[i%len(companies)], titles[i%len(titles)], stages[i%len(stages)],
			created.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), optIn)
	}
	return bw.Flush()
}

var (
	contactsOut = flag.String("contacts-out", "", "TestWriteContactsFile: write a generated contacts CSV to this file")
	contactsN   = flag.Int("contacts", 1000000, "TestWriteContactsFile: how many contacts")
)

// TestWriteContactsFile writes a big file for a manual `cyclehub import`:
//
//	go test ./internal/importer -run TestWriteContactsFile -contacts 1000000 -contacts-out /tmp/contacts.csv
func TestWriteContactsFile(t *testing.T) {
	if *contactsOut == "" {
		t.Skip("a generator: give -contacts-out FILE")
	}
	f, err := os.Create(*contactsOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeContacts(f, 0, *contactsN, true); err != nil {
		t.Fatal(err)
	}
}
